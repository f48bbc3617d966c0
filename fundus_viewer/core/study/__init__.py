"""Blinded rating studies: the study file, creating one, and analysing its answers."""
