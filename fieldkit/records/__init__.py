"""The clinical domain: models, validation, scores, services, search."""
