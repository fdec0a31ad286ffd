"""The local EPP registry (``server.EppServer``) and the RFC schemas it checks frames against."""
