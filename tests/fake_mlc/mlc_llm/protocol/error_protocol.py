class BadRequestError(ValueError):
    """mlc_llm.protocol.error_protocol.BadRequestError"""
