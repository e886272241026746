"""Hand-written NumPy models; ``registry`` lists them."""
