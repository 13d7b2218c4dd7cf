"""TrailHound: serverless automated incident responder for AWS."""

__version__ = "0.1.0"
