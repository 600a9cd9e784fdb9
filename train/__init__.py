"""Train the MNIST MLP: data loading, model, training recipes, evaluation report."""
