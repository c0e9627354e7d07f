/* cli_run.c: `pocket run`: load a model, tokenize the prompt (optionally
 * through the model's chat template), generate with the chosen sampler and
 * stream the text (or the ids, one per line) to stdout. */
#include "cli/cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
        "usage: pocket run -m MODEL [-p PROMPT] [options]\n"
        "  -m, --model FILE      GGUF model\n"
        "  -p, --prompt TEXT     prompt (default: empty, generation starts after BOS)\n"
        "  -n N                  tokens to generate (default 128)\n"
        "  --temp T              temperature (default 0.8; 0 = greedy)\n"
        "  --top-k K --top-p P --min-p P   sampling filters (40, 0.95, 0.05)\n"
        "  --repeat-penalty R    (default 1.0 = off)  --repeat-last-n N (64)\n"
        "  --presence-penalty F --frequency-penalty F\n"
        "  --seed S              random seed\n"
        "  --ctx N               context length (default min(train, 4096))\n"
        "  --kv-type T           KV cache type: f16 (default) or q8_0 (half the memory)\n"
        "  -t N                  threads (default all cores)\n"
        "  --stop TEXT           stop string (repeatable)\n"
        "  --ids                 print generated token ids, one per line\n"
        "  --chat                apply the model's chat template to the prompt\n"
        "  --system TEXT         system message for --chat\n"
        "  --no-prompt-echo      do not print the prompt before the output\n");
}

typedef struct run_out {
    int ids;
} run_out;

static int on_token(void *user, int32_t tok, const char *text, size_t len) {
    run_out *o = user;
    if (o->ids) {
        if (tok >= 0) printf("%d\n", tok);
    } else if (len) {
        fwrite(text, 1, len, stdout);
    }
    fflush(stdout);
    return 0;
}

int cmd_run(int argc, char **argv) {
    const char *model = NULL, *prompt = "", *system = NULL;
    pk_gen_params gp = pk_gen_default_params();
    pk_ctx_params cp = pk_ctx_default_params();
    pk_model_params mp = pk_model_default_params();
    const char **stops = calloc((size_t)argc + 1, sizeof(char *));
    int n_stop = 0, chat = 0, echo = 1, rc = 2;
    run_out ro = { 0 };
    pk_model *m = NULL;
    pk_ctx *ctx = NULL;
    int32_t *ids = NULL;
    char *templated = NULL;
    if (!stops) return 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && v && (i++, 1))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            rc = 0;
            goto out;
        } else if (ARG("-m") || ARG("--model")) model = v;
        else if (ARG("-p") || ARG("--prompt")) prompt = v;
        else if (ARG("-n")) gp.n_predict = atoi(v);
        else if (ARG("--temp")) gp.sampler.temperature = (float)atof(v);
        else if (ARG("--top-k")) gp.sampler.top_k = atoi(v);
        else if (ARG("--top-p")) gp.sampler.top_p = (float)atof(v);
        else if (ARG("--min-p")) gp.sampler.min_p = (float)atof(v);
        else if (ARG("--repeat-penalty")) gp.sampler.repeat_penalty = (float)atof(v);
        else if (ARG("--repeat-last-n")) gp.sampler.penalty_last_n = atoi(v);
        else if (ARG("--presence-penalty")) gp.sampler.presence_penalty = (float)atof(v);
        else if (ARG("--frequency-penalty")) gp.sampler.frequency_penalty = (float)atof(v);
        else if (ARG("--seed")) gp.sampler.seed = strtoull(v, NULL, 10);
        else if (ARG("--ctx")) cp.n_ctx = atoi(v);
        else if (ARG("--kv-type")) cp.kv_type = v;
        else if (ARG("-t")) mp.n_threads = atoi(v);
        else if (ARG("--stop")) stops[n_stop++] = v;
        else if (ARG("--system")) system = v;
        else if (!strcmp(a, "--ids")) ro.ids = 1;
        else if (!strcmp(a, "--chat")) chat = 1;
        else if (!strcmp(a, "--no-prompt-echo")) echo = 0;
        else {
            fprintf(stderr, "pocket run: unknown or incomplete option '%s'\n", a);
            usage(stderr);
            goto out;
        }
#undef ARG
    }
    if (!model) {
        fprintf(stderr, "pocket run: -m MODEL is required\n");
        usage(stderr);
        goto out;
    }
    rc = 1;
    gp.stop = n_stop ? stops : NULL;
    if (pk_model_load(model, &mp, &m) != PK_OK || pk_ctx_new(m, &cp, &ctx) != PK_OK) {
        fprintf(stderr, "pocket run: %s\n", pk_last_error());
        goto out;
    }
    const char *text = prompt;
    if (chat) {
        pk_chat_msg msgs[2];
        int nm = 0;
        if (system) msgs[nm++] = (pk_chat_msg){ "system", system };
        msgs[nm++] = (pk_chat_msg){ "user", prompt };
        if (pk_chat_apply_model(m, msgs, (size_t)nm, 1, &templated) != PK_OK) {
            fprintf(stderr, "pocket run: %s\n", pk_last_error());
            goto out;
        }
        text = templated;
        echo = 0;
    }
    size_t n_ids;
    if (pk_tokenize(m, text, strlen(text), 1, chat, &ids, &n_ids) != PK_OK) {
        fprintf(stderr, "pocket run: %s\n", pk_last_error());
        goto out;
    }
    if (n_ids == 0) {
        fprintf(stderr, "pocket run: the prompt is empty and the model adds no BOS\n");
        goto out;
    }
    if (echo && !ro.ids && *prompt) fputs(prompt, stdout);
    if (pk_generate(ctx, ids, n_ids, &gp, on_token, &ro, NULL, NULL) != PK_OK) {
        fprintf(stderr, "\npocket run: %s\n", pk_last_error());
        goto out;
    }
    if (!ro.ids) putchar('\n');
    rc = 0;
out:
    pk_free(ids);
    pk_free(templated);
    pk_ctx_free(ctx);
    pk_model_free(m);
    free(stops);
    return rc;
}
