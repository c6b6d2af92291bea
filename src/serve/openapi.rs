//! `GET /api/openapi.json`: an OpenAPI 3.1 document of every route.
