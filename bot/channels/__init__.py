"""User-facing channels: web chat (socket.io) and Telegram."""
