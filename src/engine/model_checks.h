/* Checks the model loaders (llama_model.c, bert_model.c) apply to every tensor they
 * take from a GGUF file, with the messages a user sees ("model: tensor X ..."). */
#ifndef MEDIFY_ENGINE_MODEL_CHECKS_H
#define MEDIFY_ENGINE_MODEL_CHECKS_H

#include "medify/gguf.h"

/* t must have the shape {ne0, ne1} (trailing dimensions 1). MD_ERR_PARSE naming the
 * tensor, the found and the expected shape. */
md_status model_check_shape(const md_gguf_tensor *t, uint64_t ne0, uint64_t ne1, md_error *err);
/* The type must have traits and its rows be whole blocks of the type and, for a
 * matrix (used by md_vec_dot), of the activation type paired with it.
 * MD_ERR_UNSUPPORTED otherwise. */
md_status model_check_type(const md_gguf_tensor *t, bool matrix, md_error *err);
/* The tensor's data covers ne1 rows of ne0 elements; *row_bytes gets a row's size.
 * MD_ERR_PARSE when the data is shorter. */
md_status model_check_bytes(const md_gguf_tensor *t, uint64_t ne0, uint64_t ne1, uint64_t *row_bytes, md_error *err);

#endif
