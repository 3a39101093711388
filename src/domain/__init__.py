"""Business rules of embed-oauth: plain, synchronous Python with no framework imports."""
