// The entry point of the layering checks (CMakeLists.txt, gptforge_layer): each links one layer's
// whole archive against the layers below it, so the link itself is the check; nothing runs.
int main() { return 0; }
