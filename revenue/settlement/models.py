"""Settlement models (registered in the ``revenue`` app)."""
