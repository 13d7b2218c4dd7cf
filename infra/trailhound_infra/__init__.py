"""TrailHound's CDK app: one construct per component, composed by ``stack.TrailHoundStack``."""
