"""Metrics: reconstruction, linear separability, classifier-feature FID, PPL, edit fidelity; attribute classifier."""

from stylegan_edit.metrics.reconstruction import mse, psnr, reconstruction_metrics, ssim

__all__ = ["mse", "psnr", "reconstruction_metrics", "ssim"]
