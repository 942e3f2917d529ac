"""Espoo employment-services assistant: gateway and shared logic."""
