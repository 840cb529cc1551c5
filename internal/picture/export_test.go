package picture

// NoiseJPEG is for the upload benchmark of package picture_test.
var NoiseJPEG = noiseJPEG
