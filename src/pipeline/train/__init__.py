"""Training stages: CPT (DeepSpeed), SFT (IT, RoT), RPO."""
