"""Official pSp / e4e / ReStyle encoder checkpoints, read weights-only into modules named as the projects' own."""

from stylegan_edit.encoders.official.checkpoint import official_spec, read_official_encoder
from stylegan_edit.encoders.official.encoder import OfficialEncoder, OfficialSpec, official_input

__all__ = ["OfficialEncoder", "OfficialSpec", "official_input", "official_spec", "read_official_encoder"]
