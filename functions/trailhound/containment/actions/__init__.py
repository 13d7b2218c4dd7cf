"""Containment actions, one module per AWS service. Importing a module registers its actions."""
