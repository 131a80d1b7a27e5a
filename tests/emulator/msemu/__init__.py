"""msemu: a local emulator of Microsoft's identity platform (v2.0) and the Graph endpoints the
onedrive.connection collection uses. Test-only: never shipped with the collection."""
