"""hotline-eval: the shared platform kit (``hotline.kit``) and the developer CLI (``hotline.cli``)."""
