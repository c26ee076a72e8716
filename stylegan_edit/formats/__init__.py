"""Network files: the native safetensors format and the readers (writers where possible) of the files users hold:
NVIDIA stylegan2-ada / stylegan3 pickles (allow-list unpickling), NVIDIA's TensorFlow pickles, rosinality `.pt`."""

from stylegan_edit.formats.native import load_generator, load_network, save_network, sniff_format

__all__ = ["load_generator", "load_network", "save_network", "sniff_format"]
