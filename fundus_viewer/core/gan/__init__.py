"""Patho-GAN (Wang et al. 2019, section 4.2): a vessel map and noise to a fundus photo whose
pathology-aware heat maps match a real photo's."""
