"""Code shared by every zoo recipe: features, training, conversion, evaluation and the card."""
