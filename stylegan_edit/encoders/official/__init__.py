"""Official pSp / e4e / ReStyle encoder checkpoints, read weights-only into modules named as the projects' own."""

from stylegan_edit.encoders.official.checkpoint import official_spec, read_official_encoder
from stylegan_edit.encoders.official.encoder import OfficialEncoder, OfficialSpec, official_input
from stylegan_edit.encoders.official.hyperstyle import (
    OfficialHyperStyle,
    is_official_hyperstyle_checkpoint,
    read_official_hyperstyle,
)

__all__ = [
    "OfficialEncoder",
    "OfficialHyperStyle",
    "OfficialSpec",
    "is_official_hyperstyle_checkpoint",
    "official_input",
    "official_spec",
    "read_official_encoder",
    "read_official_hyperstyle",
]
