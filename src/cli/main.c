/* main.c: the `pocket` command-line tool. It dispatches subcommands to
 * cli_*.c files; each uses only the public API (pocket.h) the way a library
 * user would. Only the CLI decides to exit. */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static const pk_cli_cmd commands[] = {
    { "help", "show this help", NULL },
    { "run", "generate text with a GGUF model", cmd_run },
    { "tokenize", "text to token ids with a model's or a tokenizer.json's vocabulary", cmd_tokenize },
    { "inspect", "show a GGUF file's metadata, tensors and size", cmd_inspect },
    { "convert-raw", "GGUF from a JSON manifest and raw fp32 tensors", cmd_convert_raw },
    { "convert-llama2c", "convert a llama2.c checkpoint to GGUF", cmd_convert_llama2c },
    { "perplexity", "perplexity and KL divergence over a text file", cmd_perplexity },
    { "imatrix", "collect an importance matrix over a calibration text", cmd_imatrix },
    { "bench", "prompt and generation speed, load time, peak memory", cmd_bench },
    { "quantize", "quantize a GGUF model (types, mixes, size budgets)", cmd_quantize },
    { "erase", "erase a person from a photo and fill the hole", cmd_erase },
};

static void usage(FILE *f) {
    fprintf(f, "usage: pocket COMMAND [ARGS]   (pocket COMMAND --help for details)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-16s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (commands[i].fn && !strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "pocket: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
