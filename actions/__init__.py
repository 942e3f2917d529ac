"""Custom actions of the assistant (rasa-sdk); `rasa run actions --actions actions` loads them all."""
