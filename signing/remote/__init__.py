"""Remote signing for officials: CSC API v1.0.4 credentials, sole control (SCAL2) with SADs, step-up, audit."""
