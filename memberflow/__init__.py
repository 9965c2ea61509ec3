"""memberflow: a real-time membership and loyalty engine on Kafka and Faust."""

__version__ = "0.1.0"
