"""FHIR R4 interface: Patient writes and reads, `$match`, errors as OperationOutcome."""
