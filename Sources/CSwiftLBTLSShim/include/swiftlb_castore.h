#ifndef SWIFTLB_CASTORE_H
#define SWIFTLB_CASTORE_H
/* The CA and CRL files of HAProxy's cafile tree (`ca-file`, `ca-verify-file`, `crl-file`, and
 * the `ssl ca-file|crl-file` commands of the stats socket): each file is an X509_STORE of its
 * certificates or CRLs, in the store's own (sorted) order, which the commands' `NAME:index`
 * counts in. The STACK_OF macros and X509_INFO walking live here, not in Swift. */
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Adds every certificate and CRL of PEM text (or of a PEM file) to `store`. Returns how many
 * objects were read, or -1 when the text holds none or one could not be added (HAProxy's
 * ssl_store_load_ca_from_buf). */
int swiftlb_store_load_pem(X509_STORE *store, const char *text, int length);
int swiftlb_store_load_file(X509_STORE *store, const char *path);
/* The objects of a store: their count, and the certificate or CRL at `index` (NULL when the
 * object there is of the other kind). */
int swiftlb_store_count(X509_STORE *store);
X509 *swiftlb_store_cert_at(X509_STORE *store, int index);
X509_CRL *swiftlb_store_crl_at(X509_STORE *store, int index);
/* Adds every object of `source` to `target`; with a CRL among them, turns on CRL checking of
 * the leaf and the chain. Returns 1 on success. */
int swiftlb_store_merge(X509_STORE *target, X509_STORE *source);
/* Gives `ctx` a new verification store for new handshakes and returns the one it had, with a
 * reference the caller owns: a handshake running on another thread may still read it, so the
 * caller frees it only when the context goes. */
X509_STORE *swiftlb_ctx_swap_store(SSL_CTX *ctx, X509_STORE *store);
/* A bind's trust changed: sessions verified under the old one must not resume. Gives `ctx`
 * the session-id context `id` (cached sessions and tickets carry the one they were made in,
 * and OpenSSL resumes only a matching one) and empties its session cache. */
void swiftlb_ctx_forget_sessions(SSL_CTX *ctx, const char *id);
/* HAProxy's `show ssl ca-file NAME` and `show ssl crl-file NAME` detail of one object
 * (show_cert_detail, show_crl_detail). malloc'd, the caller frees; NULL on failure. */
char *swiftlb_cert_detail(X509 *cert);
char *swiftlb_crl_detail(X509_CRL *crl);
#endif
