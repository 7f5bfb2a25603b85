"""Training primitives shared by source training and every method."""
