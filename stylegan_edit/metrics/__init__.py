"""Metrics that use the methods and are never used by them: classifier-space FID, linear separability, PPL,
edit fidelity."""
