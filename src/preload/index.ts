// contextBridge exposing the typed API contract (issue 5).
export {}
