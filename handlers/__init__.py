"""aiogram routers, thin: read the update, call crm, render. Each module exposes `router`."""
