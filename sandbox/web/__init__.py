"""The demo's web chat: a Telegram-like page over the Bot API stand-in and the simulated phone."""
