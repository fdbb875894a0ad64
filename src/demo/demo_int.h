/* Shared only by the files of src/demo/. */
#ifndef PLUGAUTH_DEMO_INT_H
#define PLUGAUTH_DEMO_INT_H

/* The playground page (playground.html, embedded by scripts/embed-text.py);
 * its script's nonce goes where it says {{nonce}}. */
extern const char demo_playground_html[];

#endif
