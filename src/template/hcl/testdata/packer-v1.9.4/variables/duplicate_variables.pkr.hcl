
variables  {
    boolean_value = false
}

variables  {
    boolean_value = true
}
