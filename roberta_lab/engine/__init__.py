"""The engine: what is done with a model (fill-mask, ablation sweeps, importance, logit lens,
patching, head roles, generation and step traces). Modules here import from ``roberta_lab.model``
and never from ``roberta_lab.views``."""
