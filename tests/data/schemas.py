"""Schemas for the structured-output tests (hand-written for this project)."""

MEDIUM = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
        "email": {"type": "string", "pattern": "^[a-z]{1,8}@[a-z]{1,8}\\.(com|org)$"},
        "role": {"enum": ["admin", "user", "guest"]},
        "active": {"type": "boolean"},
        "address": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "zip": {"type": "string", "pattern": "^[0-9]{5}$"}},
            "required": ["city", "zip"],
        },
        "scores": {"type": "array", "items": {"type": "number"}, "maxItems": 5},
    },
    "required": ["name", "age", "role", "active", "address"],
    "additionalProperties": False,
}

INVOICE = {
    "type": "object",
    "properties": {
        "invoice_number": {"type": "string", "pattern": "^INV-[0-9]{4,6}$"},
        "date": {"type": "string", "pattern": "^20[0-9]{2}-[01][0-9]-[0-3][0-9]$"},
        "currency": {"enum": ["EUR", "USD", "GBP", "CHF"]},
        "seller": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "vat_id": {"type": ["string", "null"]},
                "address": {"type": "string"},
            },
            "required": ["name", "address"],
        },
        "buyer": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
        "items": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "description": {"type": "string"},
                    "quantity": {"type": "integer", "minimum": 1},
                    "unit_price": {"type": "number", "minimum": 0},
                    "tax_rate": {"type": "number", "minimum": 0, "maximum": 1},
                },
                "required": ["description", "quantity", "unit_price"],
            },
        },
        "total": {"type": "number"},
        "paid": {"type": "boolean"},
        "notes": {"type": "string"},
    },
    "required": ["invoice_number", "date", "currency", "seller", "buyer", "items", "total"],
}
