"""Demo data: the demo alliance, its catalogue and agreements, generated transactions and targets.

``manage.py demo`` runs the product's main job on it (see the README).
"""
