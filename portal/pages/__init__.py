"""The portal's pages, one module an area: routes that read a form, call a service and render."""
