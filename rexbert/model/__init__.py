"""The rexbert encoder: ModernBERT architecture, built for training speed."""
