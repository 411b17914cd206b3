"""One module per console page (or group of pages): its routes, rendering its template."""
