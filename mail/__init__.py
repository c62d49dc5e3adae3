"""The e-mail channel: mailboxes watched over IMAP IDLE, letters decoded, replies sent by SMTP."""
