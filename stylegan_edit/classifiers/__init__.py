"""The attribute classifier of the SynthFaces domain (the metrics' and the encoders' judge), and its training."""

from stylegan_edit.classifiers.attributes import AttributeClassifier, ClassifierConfig, load_classifier, read_classifier

__all__ = ["AttributeClassifier", "ClassifierConfig", "load_classifier", "read_classifier"]
