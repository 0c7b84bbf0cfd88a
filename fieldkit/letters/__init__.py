"""Printed letters: a referral or treatment letter as PDF, shaped for Arabic and Persian, with a signed QR."""
