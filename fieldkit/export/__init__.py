"""What the laptops hold, leaving for national systems: FHIR R4 bundles and DHIS2 data value sets."""
