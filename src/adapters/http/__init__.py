"""The HTTP edge: Litestar controllers and msgspec DTOs. Structs never travel further in."""
