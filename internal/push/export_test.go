package push

// EncryptWith exposes the encryption with a chosen ephemeral key, salt and
// padding, for the RFC 8291 test vector.
var EncryptWith = encrypt

// PaddedLen exposes the padding buckets.
var PaddedLen = paddedLen
