/*===- CApiSmoke.c - moert.h used from C99 --------------------------------===*\
|*                                                                            *|
|* Compiled as C99 with -Wall -Wextra -pedantic -Werror: the header must be   *|
|* plain C. Loads the toy layer and its weights (w.safetensors beside the     *|
|* manifest), runs two tokens and checks the introspection calls.             *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#include "moert/moert.h"

#include <stdio.h>
#include <string.h>

int moertCSmokeTest(const char *manifest, char *message, size_t size);

int moertCSmokeTest(const char *manifest, char *message, size_t size) {
  moert_layer *layer = NULL;
  char weights[4096];
  const char *slash = strrchr(manifest, '/');
  float input[16] = {0}, output[16];
  int i;
  if (moert_layer_load(manifest, NULL, MOERT_BACKEND_CPU, &layer) !=
      MOERT_SUCCESS) {
    snprintf(message, size, "load: %s", moert_last_error());
    return 1;
  }
  snprintf(weights, sizeof weights, "%.*s/w.safetensors",
           (int)(slash ? slash - manifest : 1), slash ? manifest : ".");
  if (moert_layer_load_weights(layer, weights, 0) != MOERT_SUCCESS ||
      moert_layer_reserve(layer, 2) != MOERT_SUCCESS ||
      moert_layer_run(layer, input, output, 2, NULL) != MOERT_SUCCESS) {
    snprintf(message, size, "%s", moert_last_error());
    moert_layer_destroy(layer);
    return 2;
  }
  /* A zero input gives rowsum 0 and the counter's 2 everywhere. */
  for (i = 0; i < 16; ++i) {
    if (output[i] != 2.0f) {
      snprintf(message, size, "output[%d] = %g", i, (double)output[i]);
      moert_layer_destroy(layer);
      return 3;
    }
  }
  if (moert_layer_hidden_size(layer) != 8 ||
      strcmp(moert_layer_dtype(layer), "f32") != 0 ||
      moert_layer_io_bytes(layer, 2) != 64) {
    snprintf(message, size, "introspection mismatch");
    moert_layer_destroy(layer);
    return 4;
  }
  moert_layer_destroy(layer);
  return 0;
}
