"""The workflow API: what a user imports first."""
