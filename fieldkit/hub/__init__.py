"""The central hub: an aiohttp peer that receives what laptops forward and hands back what they lack."""
